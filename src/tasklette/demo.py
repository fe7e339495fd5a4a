"""Demo data: a realistic team board to try Tasklette with (`tasklette demo`).

Everything is created through the service layer, acting as the team's members, so the
project's activity log reads like a real team's history. Running it again creates another
project and reuses the users that already exist.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass, field

from tasklette.services import columns, comments, labels, members, projects, tasks, users
from tasklette.services.errors import NotFound
from tasklette.services.permissions import Actor
from tasklette.services.tasks import TaskFields
from tasklette.storage.database import Database

PROJECT_NAME = "Website relaunch"
PROJECT_DESCRIPTION = """\
Relaunch of the public website: new design system, faster pages, a rewritten docs section \
and a proper blog.

- **Launch target:** end of next month
- **Design files:** [Figma - Website 2.0](https://www.figma.com/)
- **Staging:** https://staging.example.com

Columns: *To do* → *In progress* → *Review* (a second pair of eyes) → *Done*.
"""

OWNER = "@owner"  # stands for the owner's username in the data below


@dataclass(frozen=True)
class Teammate:
    username: str
    display_name: str
    role: str


TEAM: tuple[Teammate, ...] = (
    Teammate("ana", "Ana Souza", "editor"),      # frontend
    Teammate("ben", "Ben Okafor", "editor"),     # backend
    Teammate("chloe", "Chloé Martin", "editor"),  # design
    Teammate("dev", "Dev Patel", "viewer"),       # marketing, follows along
)

LABELS: tuple[tuple[str, str], ...] = (
    ("bug", "#e5484d"),
    ("feature", "#3e63dd"),
    ("design", "#8e4ec6"),
    ("docs", "#12a594"),
    ("backend", "#f76b15"),
    ("frontend", "#0090ff"),
)

REVIEW_COLUMN = "Review"
COLUMN_KEYS = {"todo": "To do", "doing": "In progress", "review": REVIEW_COLUMN,
               "done": "Done"}


@dataclass(frozen=True)
class DemoTask:
    key: str
    title: str
    column: str                      # a key of COLUMN_KEYS
    by: str                          # who creates it: a username or OWNER
    priority: str = "none"
    start: int | None = None         # days from today
    due: int | None = None           # days from today
    labels: tuple[str, ...] = ()
    assignees: tuple[str, ...] = ()
    description: str = ""


@dataclass(frozen=True)
class DemoSubtask:
    parent: str                      # key of a DemoTask
    title: str
    by: str
    completed: bool = False
    assignees: tuple[str, ...] = ()
    due: int | None = None


@dataclass(frozen=True)
class DemoComment:
    task: str                        # key of a DemoTask
    by: str
    body: str


TASKS: tuple[DemoTask, ...] = (
    # --- Done ---------------------------------------------------------------------------
    DemoTask("kickoff", "Kick-off meeting and scope", "done", OWNER, "medium",
             start=-30, due=-24, labels=("docs",), assignees=(OWNER,), description="""\
Agreed scope for the relaunch:

1. New design system and page templates
2. Static generation for marketing pages
3. Docs rewrite
4. Blog with RSS

Notes are in the [kick-off doc](https://docs.example.com/kickoff).
"""),
    DemoTask("audit", "Audit current site performance", "done", "ben", "high",
             start=-28, due=-20, labels=("backend",), assignees=("ben",), description="""\
Lighthouse on the five most visited pages (mobile, throttled):

| Page | Performance | LCP |
|------|-------------|-----|
| Home | 41 | 5.8 s |
| Pricing | 55 | 4.1 s |
| Docs | 62 | 3.2 s |

The hero video and unminified CSS are the worst offenders.
"""),
    DemoTask("moodboard", "Moodboard and visual direction", "done", "chloe", "medium",
             start=-26, due=-18, labels=("design",), assignees=("chloe",),
             description="Three directions presented; the team picked **B: calm & airy**."),
    DemoTask("analytics", "Switch analytics to a privacy-friendly tool", "done", "ben", "low",
             start=-20, due=-12, labels=("backend", "feature"), assignees=("ben",),
             description="Moved to self-hosted analytics; no cookie banner needed anymore."),
    DemoTask("tokens", "Define design tokens (colours, type scale, spacing)", "done", "chloe",
             "high", start=-18, due=-9, labels=("design", "frontend"),
             assignees=("chloe", "ana"), description="""\
Tokens live in `tokens.json` and compile to CSS custom properties:

```css
:root {
  --color-accent: #3e63dd;
  --space-2: 0.5rem;
  --font-size-lg: 1.125rem;
}
```
"""),
    # --- Review -------------------------------------------------------------------------
    DemoTask("nav", "Responsive navigation with mobile menu", "review", "ana", "high",
             start=-8, due=1, labels=("frontend", "feature"), assignees=("ana",),
             description="""\
- [x] Desktop layout
- [x] Mobile drawer
- [x] Keyboard navigation and focus trap
- [ ] Test on iOS Safari

Preview: https://staging.example.com/?branch=nav
"""),
    DemoTask("redirects", "Redirect map from old URLs", "review", "ben", "urgent",
             start=-6, due=-1, labels=("backend",), assignees=("ben",), description="""\
All old URLs must keep working. The map is generated from the sitemap:

```bash
python scripts/redirects.py old-sitemap.xml > redirects.csv
```

312 URLs mapped, 14 need a manual decision (marked `TODO` in the CSV).
"""),
    DemoTask("contrast", "Fix colour contrast on secondary buttons", "review", "chloe",
             "medium", due=2, labels=("bug", "design"), assignees=("chloe",),
             description="Secondary buttons are at **3.1:1**; WCAG AA needs 4.5:1 for text."),
    # --- In progress --------------------------------------------------------------------
    DemoTask("home", "Build the new home page", "doing", OWNER, "high",
             start=-5, due=4, labels=("frontend", "feature"), assignees=("ana", "chloe"),
             description="""\
Sections, top to bottom:

- [x] Hero with product screenshot
- [ ] Three feature highlights
- [ ] Customer logos
- [ ] Pricing teaser
- [ ] Footer with newsletter sign-up

Design: see the *Home v3* frame in Figma.
"""),
    DemoTask("ssg", "Static site generation for marketing pages", "doing", "ben", "high",
             start=-7, due=-2, labels=("backend", "feature"), assignees=("ben",),
             description="""\
Render the marketing pages at build time and serve them from the CDN.

Open question: how do we preview drafts? Probably a `?preview=<token>` route that renders \
on demand.
"""),
    DemoTask("docs-ia", "Docs information architecture", "doing", OWNER, "medium",
             start=-4, due=3, labels=("docs",), assignees=(OWNER,), description="""\
Proposed top level: **Get started**, **Guides**, **Reference**, **FAQ**.

Based on the [Diátaxis](https://diataxis.fr/) framework.
"""),
    DemoTask("images", "Image pipeline: AVIF/WebP with fallbacks", "doing", "ana", "medium",
             start=-3, due=5, labels=("frontend", "backend"), assignees=("ana", "ben"),
             description="""\
```html
<picture>
  <source srcset="hero.avif" type="image/avif">
  <source srcset="hero.webp" type="image/webp">
  <img src="hero.jpg" alt="Tasklette board" width="1200" height="675">
</picture>
```
"""),
    DemoTask("safari-font", "Font flashes on first load in Safari", "doing", "ana", "urgent",
             start=-2, due=-1, labels=("bug", "frontend"), assignees=("ana",),
             description="""\
**Steps to reproduce**

1. Open the staging site in a private Safari window
2. Watch the headline

**Expected:** the web font is used from the start.
**Actual:** the fallback font shows for ~300 ms, then the layout jumps.

Probably needs `font-display: optional` plus a preload.
"""),
    # --- To do --------------------------------------------------------------------------
    DemoTask("pricing", "Pricing page with plan comparison table", "todo", OWNER, "high",
             start=2, due=9, labels=("frontend", "feature"), assignees=("ana",),
             description="Plans: Free, Team, Business. Annual toggle shows the 2-months-free "
                         "discount."),
    DemoTask("blog", "Blog: listing, article template and RSS", "todo", "ben", "medium",
             start=5, due=33, labels=("feature", "backend"), assignees=("ben",),
             description="""\
- [ ] Article template with reading time
- [ ] Tag pages
- [ ] RSS and Atom feeds
- [ ] Import the 40 old posts
"""),
    DemoTask("cookie", "Remove the old cookie banner", "todo", "ben", "low", due=-3,
             labels=("frontend",), assignees=("ana",),
             description="Not needed since the analytics switch. Remove the script and its CSS."),
    DemoTask("og", "Open Graph images for all pages", "todo", "chloe", "low", due=31,
             labels=("design",), assignees=("chloe",),
             description="A template in Figma, rendered at build time with the page title."),
    DemoTask("search", "Docs search", "todo", OWNER, "medium", start=10, due=38,
             labels=("feature", "docs"), assignees=("ben",), description="""\
Client-side index built at deploy time; must work offline.

Candidates: [Pagefind](https://pagefind.app/), Lunr.
"""),
    DemoTask("a11y", "Accessibility audit before launch", "todo", OWNER, "high",
             start=20, due=35, labels=("frontend", "design"), assignees=("ana", "chloe"),
             description="""\
Checklist:

- [ ] Keyboard-only pass through every template
- [ ] Screen reader pass (VoiceOver, NVDA)
- [ ] Colour contrast of all tokens
- [ ] Reduced motion respected
"""),
    DemoTask("forms", "Contact form sends duplicate e-mails", "todo", "ben", "urgent", due=-4,
             labels=("bug", "backend"), assignees=("ben",), description="""\
Double-clicking *Send* submits twice. Disable the button on submit **and** make the \
endpoint idempotent:

```python
if await seen(request.headers["Idempotency-Key"]):
    return Response(status_code=204)
```
"""),
    DemoTask("404", "Friendly 404 page", "todo", "chloe", "low", due=12,
             labels=("design", "frontend"), assignees=("chloe",),
             description="Illustration plus a search box and links to the docs and home."),
    DemoTask("changelog", "Changelog page generated from releases", "todo", "ben", "low",
             due=40, labels=("docs", "backend"),
             description="Pull release notes from the GitHub API at build time."),
    DemoTask("styleguide", "Writing style guide for docs", "todo", OWNER, "medium", due=6,
             labels=("docs",), assignees=(OWNER,), description="""\
Short and practical:

- Second person, present tense
- Sentence case for headings
- Every page starts with what the reader will achieve
"""),
    DemoTask("cdn", "Set up CDN caching rules", "todo", "ben", "high", start=1, due=7,
             labels=("backend",), assignees=("ben",), description="""\
| Path | Cache |
|------|-------|
| `/assets/*` | 1 year, immutable |
| `/*.html` | 5 min, stale-while-revalidate |
| `/api/*` | no-store |
"""),
    DemoTask("legal", "Update privacy policy and imprint", "todo", OWNER, "medium", due=-6,
             labels=("docs",), assignees=(OWNER,),
             description="Legal sent the new text; it mentions the new analytics provider."),
    DemoTask("dark-mode", "Dark mode", "todo", "chloe", "none", due=45,
             labels=("design", "feature", "frontend"),
             description="Nice to have after launch. The tokens already support it."),
    DemoTask("launch-plan", "Launch day plan and rollback checklist", "todo", OWNER, "urgent",
             start=25, due=36, labels=("docs",), assignees=(OWNER, "ben"), description="""\
- [ ] Freeze content two days before
- [ ] DNS TTL lowered to 5 minutes the day before
- [ ] Switch, then smoke-test the top 20 URLs
- [ ] Rollback: point DNS back to the old host (keep it running for a week)
"""),
    DemoTask("newsletter", "Newsletter sign-up in the footer", "todo", "ana", "low", due=14,
             labels=("frontend", "feature"), assignees=("ana",),
             description="Double opt-in; the API key is in the team vault."),
    DemoTask("screenshots", "Fresh product screenshots", "todo", "chloe", "medium", start=3,
             due=10, labels=("design",), assignees=("chloe",),
             description="Light and dark, 2x resolution, with the demo data (no real names!)."),
)

SUBTASKS: tuple[DemoSubtask, ...] = (
    DemoSubtask("home", "Hero section", "ana", completed=True, assignees=("ana",)),
    DemoSubtask("home", "Feature highlights", "ana", assignees=("ana",), due=2),
    DemoSubtask("home", "Customer logos (get approval from sales)", OWNER, assignees=("ana",),
                due=3),
    DemoSubtask("home", "Final copy from marketing", OWNER, due=1),
    DemoSubtask("ssg", "Choose the generator", "ben", completed=True, assignees=("ben",)),
    DemoSubtask("ssg", "Build step in CI", "ben", completed=True, assignees=("ben",)),
    DemoSubtask("ssg", "Draft preview route", "ben", assignees=("ben",), due=2),
    DemoSubtask("blog", "Article template", "ben", assignees=("ana",), due=20),
    DemoSubtask("blog", "RSS and Atom feeds", "ben", assignees=("ben",), due=25),
    DemoSubtask("blog", "Import old posts", "ben", due=30),
    DemoSubtask("launch-plan", "Lower DNS TTL", OWNER, assignees=("ben",), due=35),
    DemoSubtask("launch-plan", "Smoke-test script for the top 20 URLs", OWNER,
                completed=True, assignees=("ben",)),
)

COMMENTS: tuple[DemoComment, ...] = (
    DemoComment("nav", "chloe", "Looks great! One thing: the drawer should close when you "
                "tap outside it. Otherwise :+1: from design."),
    DemoComment("nav", "ana", "Good catch, fixed in the latest preview. Still need someone "
                "with an iPhone to test Safari — **@ben**, could you?"),
    DemoComment("redirects", OWNER, "Let's not launch with any of the 14 open ones. I went "
                "through them; the decisions are in the *Notes* column of the CSV."),
    DemoComment("redirects", "ben", "Thanks! All 326 now map somewhere. Verified with:\n\n"
                "```bash\nwhile read old new; do curl -sI \"$old\" | grep -q 301 || "
                "echo \"$old\"; done < redirects.csv\n```\n\nNo output, so we're good."),
    DemoComment("home", "chloe", "Updated the hero in Figma: the screenshot is now on the "
                "right, with more white space. See [Home v3](https://www.figma.com/)."),
    DemoComment("home", "ana", "Implemented. The logos row is waiting for approval from "
                "sales, so I used placeholders for now."),
    DemoComment("ssg", OWNER, "This is overdue — anything blocking you, Ben?"),
    DemoComment("ssg", "ben", "The draft preview route took longer than planned. CI build is "
                "done; I expect to finish the preview on Wednesday."),
    DemoComment("safari-font", "ana", "Reproduced on Safari 17. With `font-display: optional`"
                " plus `<link rel=\"preload\">` the jump is gone, but the first visit may "
                "show the fallback font. Acceptable?"),
    DemoComment("safari-font", "chloe", "Yes, fine by me — the fallback stack is close "
                "enough."),
    DemoComment("forms", "ben", "Confirmed in the logs: 23 duplicates last week. Taking "
                "this tomorrow morning."),
    DemoComment("contrast", "chloe", "New secondary colour is `#3451b2` on white: "
                "**6.2:1**. Tokens updated."),
    DemoComment("tokens", "ana", "All components use the tokens now; I removed 400 lines "
                "of old CSS. :tada:"),
    DemoComment("docs-ia", "ben", "Can we keep the API reference generated from the OpenAPI "
                "document? Hand-written reference pages always drift."),
    DemoComment("docs-ia", OWNER, "Agreed — the *Reference* section will be generated. "
                "Guides stay hand-written."),
    DemoComment("legal", OWNER, "Still waiting for the final wording from legal; I pinged "
                "them again today."),
    DemoComment("audit", "ben", "Re-ran Lighthouse on staging after the image pipeline "
                "prototype: home went from 41 to **88**."),
)


@dataclass(frozen=True)
class FollowUp:
    """Something done after the board was set up, so the activity log shows real work."""

    kind: str                        # "move" (to review), "complete", "label"
    task: str                        # key of a DemoTask, or "parent/subtask title"
    by: str
    label: str = ""


FOLLOW_UPS: tuple[FollowUp, ...] = (
    FollowUp("complete", "home/Hero section", "ana"),
    FollowUp("label", "legal", OWNER, label="bug"),
    FollowUp("move", "contrast", "chloe"),
)

STEPS: int = (1 + len(TEAM)          # owner and teammates
              + 1                    # project
              + len(TEAM)            # memberships
              + 1                    # Review column
              + len(LABELS) + len(TASKS) + len(SUBTASKS) + len(COMMENTS) + len(FOLLOW_UPS))


@dataclass
class _Board:
    """What `create` builds up as it goes."""

    actors: dict[str, Actor] = field(default_factory=dict)
    created_users: list[str] = field(default_factory=list)
    reused_users: list[str] = field(default_factory=list)
    column_ids: dict[str, int] = field(default_factory=dict)
    label_ids: dict[str, int] = field(default_factory=dict)
    task_ids: dict[str, int] = field(default_factory=dict)


def _day(today: datetime.date, offset: int | None) -> str | None:
    return None if offset is None else (today + datetime.timedelta(days=offset)).isoformat()


async def _user(db: Database, board: _Board, username: str, display_name: str,
                password: str) -> Actor:
    try:
        row = await users.by_username(db, username)
        board.reused_users.append(row["username"])
    except NotFound:
        row = await users.create(db, username, password, display_name)
        board.created_users.append(row["username"])
    return Actor(row["id"], row["username"], row["display_name"], bool(row["is_admin"]))


async def create(db: Database, owner_username: str, password: str,
                 progress: Callable[[int], None]) -> str:
    """Create the demo users (when missing) and a sample project; return a summary."""
    today = datetime.date.today()
    board = _Board()
    owner_name = users.normalise_username(owner_username)
    team = {mate.username: mate for mate in TEAM}

    owner_display = team[owner_name].display_name if owner_name in team \
        else owner_name.capitalize()
    owner = await _user(db, board, owner_name, owner_display, password)
    board.actors[OWNER] = owner
    progress(1)
    for mate in TEAM:
        if mate.username == owner.username:
            board.actors[mate.username] = owner
        else:
            board.actors[mate.username] = await _user(db, board, mate.username,
                                                      mate.display_name, password)
        progress(1)

    def who(name: str) -> Actor:
        return board.actors[name]

    def username(name: str) -> str:
        return who(name).username

    project = await projects.create(db, owner, PROJECT_NAME, PROJECT_DESCRIPTION)
    project_id = int(project["id"])
    progress(1)
    roles: dict[str, str] = {owner.username: "owner"}
    for mate in TEAM:
        if mate.username != owner.username:
            await members.add(db, owner, project_id, mate.username, mate.role)
            roles[mate.username] = mate.role
        progress(1)

    # "Review" sits just before "Done".
    existing = await columns.list_for_project(db, owner, project_id)
    done_position = next(c["position"] for c in existing if c["name"] == "Done")
    await columns.create(db, owner, project_id, REVIEW_COLUMN, done_position)
    progress(1)
    by_name = {c["name"]: int(c["id"])
               for c in await columns.list_for_project(db, owner, project_id)}
    board.column_ids = {key: by_name[name] for key, name in COLUMN_KEYS.items()}

    for name, color in LABELS:
        label = await labels.create(db, owner, project_id, name, color)
        board.label_ids[name] = int(label["id"])
        progress(1)

    def editor(name: str) -> Actor:
        """The actor for `name`, or the owner when that user may not edit here."""
        actor = who(name)
        return actor if roles.get(actor.username) in ("owner", "editor") else owner

    for spec in TASKS:
        task = await tasks.create(db, editor(spec.by), project_id, TaskFields(
            title=spec.title, description=spec.description, priority=spec.priority,
            start_date=_day(today, spec.start), due_date=_day(today, spec.due),
            completed=spec.column == "done",
            label_ids=[board.label_ids[name] for name in spec.labels],
            assignees=[username(name) for name in spec.assignees],
            column_id=board.column_ids[spec.column]))
        board.task_ids[spec.key] = int(task["id"])
        progress(1)

    subtask_ids: dict[str, int] = {}
    for sub in SUBTASKS:
        task = await tasks.create(db, editor(sub.by), project_id, TaskFields(
            title=sub.title, completed=sub.completed, due_date=_day(today, sub.due),
            assignees=[username(name) for name in sub.assignees]),
            parent_task_id=board.task_ids[sub.parent])
        subtask_ids[f"{sub.parent}/{sub.title}"] = int(task["id"])
        progress(1)

    for note in COMMENTS:
        await comments.create(db, editor(note.by), board.task_ids[note.task], note.body)
        progress(1)

    for step in FOLLOW_UPS:
        actor = editor(step.by)
        if step.kind == "complete":
            task_id = subtask_ids[step.task]
            current = await tasks.get(db, actor, task_id)
            await tasks.update(db, actor, task_id, TaskFields(completed=True),
                               current["version"])
        elif step.kind == "label":
            await tasks.set_label(db, actor, board.task_ids[step.task],
                                  board.label_ids[step.label], True)
        elif step.kind == "move":
            await tasks.move(db, actor, board.task_ids[step.task], board.column_ids["done"],
                             0)
            current = await tasks.get(db, actor, board.task_ids[step.task])
            await tasks.update(db, actor, current["id"], TaskFields(completed=True),
                               current["version"])
        progress(1)

    return _summary(project_id, owner, roles, board, password, today)


def _summary(project_id: int, owner: Actor, roles: dict[str, str], board: _Board,
             password: str, today: datetime.date) -> str:
    overdue = sum(1 for t in TASKS if t.column != "done" and t.due is not None and t.due < 0
                  and not any(f.kind == "move" and f.task == t.key for f in FOLLOW_UPS))
    completed = sum(1 for t in TASKS if t.column == "done") + sum(
        1 for f in FOLLOW_UPS if f.kind == "move")
    member_list = ", ".join(f"{name} ({role})" for name, role in roles.items())
    parts = [
        f"Created project '{PROJECT_NAME}' (id {project_id}) owned by {owner.username}, "
        f"with columns {', '.join(COLUMN_KEYS.values())}, {len(LABELS)} labels, "
        f"{len(TASKS)} tasks ({completed} done, {overdue} overdue as of {today.isoformat()}), "
        f"{len(SUBTASKS)} subtasks under {len({s.parent for s in SUBTASKS})} tasks and "
        f"{len(COMMENTS)} comments. Members: {member_list}."]
    if board.created_users:
        parts.append(f"New users {', '.join(board.created_users)} have the password "
                     f"'{password}'.")
    if board.reused_users:
        parts.append(f"Existing users {', '.join(board.reused_users)} were reused and kept "
                     "their passwords.")
    parts.append(f"Create an API token with `tasklette token create {owner.username}` and "
                 f"explore the project at /api/docs (GET /api/v1/projects/{project_id}/tasks).")
    return " ".join(parts)
