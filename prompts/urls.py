from django.urls import path

from prompts import views

app_name = "prompts"

urlpatterns = [
    path("", views.prompt_list, name="list"),
    path("new/", views.prompt_new, name="new"),
    path("<str:prompt_id>/", views.prompt_detail, name="detail"),
    path("<str:prompt_id>/name/", views.prompt_name, name="name"),
    path("<str:prompt_id>/rename/", views.prompt_rename_view, name="rename"),
    path("<str:prompt_id>/inputs/<str:role>.mp4", views.prompt_input, name="input"),
]
