"""The web UI's route table: each page module lists its own routes here."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from tasklette.api import calendar
from tasklette.web import (
    account,
    activity_page,
    admin_jobs,
    attachments,
    board,
    import_export,
    labels_page,
    members_page,
    my_tasks,
    notifications_page,
    project_settings,
    projects,
    saved_views,
    search_page,
    task_list,
    task_pages,
)
from tasklette.web.auth import current_session
from tasklette.web.pages import redirect


async def home(request: Request) -> Response:
    session = await current_session(request)
    return redirect("/projects" if session else "/signin", request)


def web_routes() -> list[BaseRoute]:
    return [
        Route("/", home, name="home"),
        Route("/signin", account.sign_in_page, methods=["GET"]),
        Route("/signin", account.sign_in, methods=["POST"]),
        Route("/signout", account.sign_out, methods=["POST"]),
        Route("/setup", account.setup_page, methods=["GET", "POST"]),
        Route("/signup", account.sign_up_page, methods=["GET", "POST"]),
        Route("/account", account.account_page, methods=["GET", "POST"]),
        Route("/account/tokens", account.tokens_page, methods=["GET", "POST"]),
        Route("/account/tokens/{token_id:id}/revoke", account.revoke_token, methods=["POST"]),
        Route("/projects", projects.projects_page, methods=["GET", "POST"], name="projects"),
        # --- board and task pages (web/board.py, web/task_pages.py) ---
        Route("/projects/{project_id:id}", board.board_page, methods=["GET"], name="board"),
        Route("/projects/{project_id:id}/tasks", board.quick_add, methods=["POST"]),
        Route("/projects/{project_id:id}/columns", board.add_column, methods=["POST"]),
        Route("/projects/{project_id:id}/columns/{column_id:id}/rename", board.rename_column,
              methods=["POST"]),
        Route("/projects/{project_id:id}/columns/{column_id:id}/delete", board.delete_column,
              methods=["POST"]),
        Route("/tasks/{task_id:id}", task_pages.task_page, methods=["GET"], name="task"),
        Route("/tasks/{task_id:id}/card", board.card_fragment, methods=["GET"]),
        Route("/tasks/{task_id:id}", task_pages.update_task, methods=["POST"]),
        Route("/tasks/{task_id:id}/complete", task_pages.set_completed, methods=["POST"]),
        Route("/tasks/{task_id:id}/subtasks", task_pages.add_subtask, methods=["POST"]),
        Route("/tasks/{task_id:id}/delete", task_pages.delete_task, methods=["POST"]),
        Route("/tasks/{task_id:id}/comments", task_pages.add_comment, methods=["POST"]),
        Route("/comments/{comment_id:id}/edit", task_pages.edit_comment, methods=["POST"]),
        Route("/comments/{comment_id:id}/delete", task_pages.delete_comment, methods=["POST"]),
        Route("/tasks/{task_id:id}/watch", task_pages.set_watch, methods=["POST"]),
        # --- watching a project, notifications (web/notifications_page.py) ---
        Route("/projects/{project_id:id}/watch", notifications_page.set_project_watch,
              methods=["POST"]),
        Route("/notifications", notifications_page.notifications_page, methods=["GET"],
              name="notifications"),
        Route("/notifications/read", notifications_page.mark_read, methods=["POST"]),
        # --- attachments (web/attachments.py): the list, downloads, form fallbacks ---
        Route("/tasks/{task_id:id}/attachments", attachments.attachments_fragment,
              methods=["GET"]),
        Route("/tasks/{task_id:id}/attachments", attachments.upload_form, methods=["POST"]),
        Route("/attachments/{attachment_id:id}", attachments.download, methods=["GET"]),
        Route("/attachments/{attachment_id:id}/inline", attachments.inline, methods=["GET"]),
        Route("/attachments/{attachment_id:id}/delete", attachments.delete, methods=["POST"]),
        # --- list view, labels, members, project settings, my tasks ---
        Route("/projects/{project_id:id}/list", task_list.list_page, methods=["GET"]),
        Route("/projects/{project_id:id}/activity", activity_page.activity_page,
              methods=["GET"]),
        Route("/projects/{project_id:id}/labels", labels_page.labels_page,
              methods=["GET", "POST"]),
        Route("/projects/{project_id:id}/labels/{label_id:id}", labels_page.update_label,
              methods=["POST"]),
        Route("/projects/{project_id:id}/labels/{label_id:id}/delete",
              labels_page.delete_label, methods=["POST"]),
        Route("/projects/{project_id:id}/members", members_page.members_page,
              methods=["GET", "POST"]),
        Route("/projects/{project_id:id}/members/{username}/role", members_page.change_role,
              methods=["POST"]),
        Route("/projects/{project_id:id}/members/{username}/remove",
              members_page.remove_member, methods=["POST"]),
        Route("/projects/{project_id:id}/leave", members_page.leave_project, methods=["POST"]),
        Route("/projects/{project_id:id}/settings", project_settings.settings_page,
              methods=["GET", "POST"]),
        Route("/projects/{project_id:id}/archive", project_settings.archive_project,
              methods=["POST"]),
        Route("/projects/{project_id:id}/delete", project_settings.delete_project,
              methods=["POST"]),
        Route("/my-tasks", my_tasks.my_tasks_page, methods=["GET"], name="my_tasks"),
        # --- search, saved views, import, calendar feed (web/search_page.py,
        # web/saved_views.py, web/import_export.py, api/calendar.py) ---
        Route("/search", search_page.search_page, methods=["GET"], name="search"),
        Route("/projects/{project_id:id}/views", saved_views.create_view, methods=["POST"]),
        Route("/projects/{project_id:id}/views/{view_id:id}/rename", saved_views.rename_view,
              methods=["POST"]),
        Route("/projects/{project_id:id}/views/{view_id:id}/delete", saved_views.delete_view,
              methods=["POST"]),
        Route("/projects/import", import_export.import_upload, methods=["POST"]),
        Route("/account/calendar", account.calendar_feed, methods=["POST"]),
        Route("/calendar/{secret}.ics", calendar.feed, methods=["GET"]),
        # --- administration (web/admin_jobs.py): instance administrators only ---
        Route("/admin/jobs", admin_jobs.jobs_page, methods=["GET"]),
        Route("/admin/jobs/{job_id:id}/retry", admin_jobs.retry_job, methods=["POST"]),
    ]
