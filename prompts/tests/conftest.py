from prompts.testing import (  # noqa: F401  (fixtures)
    fast_password_hashing,
    isolated_storage,
    make_prompt,
    scene_copy,
    scene_dir,
)
