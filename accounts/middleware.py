"""Every page needs a login; the JSON API answers 401 itself instead of redirecting."""

from django.conf import settings
from django.contrib.auth.middleware import LoginRequiredMiddleware as DjangoLoginRequired

# Paths that handle their own authentication (the API returns 401 JSON) or need none.
OPEN_PREFIXES = ("/api/", settings.STATIC_URL)


class LoginRequiredMiddleware(DjangoLoginRequired):
    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.path.startswith(OPEN_PREFIXES):
            return None
        return super().process_view(request, view_func, view_args, view_kwargs)
