"""Pages of runs, the dashboard, GPU hosts and the log viewer (mounted at the site root), plus the
run actions offered on a prompt's page."""

from django.urls import path

from runs import file_views, host_views, prompt_views, views

app_name = "runs"

urlpatterns = [
    path("", host_views.dashboard, name="dashboard"),
    path("runs/", views.run_list, name="list"),
    path("runs/new/", prompt_views.run_new, name="new"),
    path("runs/<str:run_id>/", views.run_detail, name="detail"),
    path("runs/<str:run_id>/cancel/", views.run_cancel_view, name="cancel"),
    path("runs/<str:run_id>/retry/", views.run_retry_view, name="retry"),
    path("runs/<str:run_id>/upscale/", views.run_upscale_view, name="upscale"),
    path("runs/<str:run_id>/delete/", views.run_delete_view, name="delete"),
    path("runs/<str:run_id>/files/<str:name>", file_views.run_file, name="file"),
    path("runs/<str:run_id>/zip/", file_views.run_zip, name="zip"),
    path("runs/<str:run_id>/log/lines/", file_views.run_log_lines, name="log-lines"),
    path("logs/<str:run_id>/", file_views.run_log_viewer, name="log-viewer"),
    path("hosts/", host_views.hosts_page, name="hosts"),
    path("hosts/live/", host_views.hosts_live, name="hosts-live"),
    path("hosts/glance/", host_views.hosts_glance, name="hosts-glance"),
    path("hosts/integrity/", host_views.integrity_page, name="integrity"),
    path("hosts/<slug:host_name>/kill/", host_views.host_kill_view, name="host-kill"),
    path("hosts/<slug:host_name>/check/", host_views.host_check_view, name="host-check"),
    path("prompts/<str:prompt_id>/runs/", prompt_views.prompt_runs, name="prompt-runs"),
    path("prompts/<str:prompt_id>/enhance/", prompt_views.prompt_enhance_view, name="prompt-enhance"),
    path("prompts/<str:prompt_id>/delete/", prompt_views.prompt_delete_view, name="prompt-delete"),
]
