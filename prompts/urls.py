from django.urls import path

from prompts import prepare_views, views

app_name = "prompts"

urlpatterns = [
    path("", views.prompt_list, name="list"),
    path("new/", views.prompt_new, name="new"),
    path("prepare/", prepare_views.preparation_new, name="prepare"),
    path("prepare/<str:job_id>/", prepare_views.preparation_detail, name="preparation"),
    path("<str:prompt_id>/", views.prompt_detail, name="detail"),
    path("<str:prompt_id>/name/", views.prompt_name, name="name"),
    path("<str:prompt_id>/rename/", views.prompt_rename_view, name="rename"),
    path("<str:prompt_id>/inputs/<str:role>.mp4", views.prompt_input, name="input"),
]
