"""Turn rendered PNG control sequences into the videos a prompt takes (issue 7, the seed's `cosmos prepare`).

Modules, in the order a preparation runs through them:

- `zipintake`: an uploaded zip, checked for escapes, emptiness and bombs, unpacked into a work folder.
- `discovery`: find each pass's numbered frames and check them; a `SequenceReport` lists every problem.
- `geometry`: the resolutions Cosmos accepts and how a frame is padded or cropped to one.
- `encode`: PNG frames -> H.264 mp4 per pass with PyAV, passes in parallel, 16-bit depth normalized.
- `describe`: the name and description of a prepared sequence.
- `services` (actions) and `selectors` (reads): what entry points call; `tasks`: the background job.
- `models`: `PreparationJob`, the progress of a zip prepared in the background.
"""
