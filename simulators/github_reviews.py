"""Pull request reviews, review comments and their replies for the GitHub stand-in.

Who wrote what comes from the token (`GitHubStandIn.add_user`), as on GitHub, so a test's
reviewer and the orchestrator's own account are different users over real HTTP.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from simulators import github_git
from simulators.github_errors import (
    ApiError,
    bad_json,
    check_enums,
    paginate,
    unprocessable,
    validation_failed,
)

if TYPE_CHECKING:
    from simulators.github_api import GitHubStandIn

REVIEWS_DOCS = "https://docs.github.com/rest/pulls/reviews#create-a-review-for-a-pull-request"
DISMISS_DOCS = "https://docs.github.com/rest/pulls/reviews#dismiss-a-review-for-a-pull-request"
COMMENTS_DOCS = (
    "https://docs.github.com/rest/pulls/comments#create-a-review-comment-for-a-pull-request"
)
REPLY_DOCS = "https://docs.github.com/rest/pulls/comments#create-a-reply-for-a-review-comment"
# pulls/create-review: `event` is APPROVE, REQUEST_CHANGES or COMMENT; left out, the review
# stays PENDING. The states a listed review has.
EVENTS = {"APPROVE": "APPROVED", "REQUEST_CHANGES": "CHANGES_REQUESTED", "COMMENT": "COMMENTED"}
_COMMENT_ENUMS = {"sort": ("created", "updated"), "direction": ("asc", "desc")}


def _refused(message: str, docs: str) -> ApiError:
    """GitHub's 422 for a review it will not take: "Unprocessable Entity" and the reason."""
    return ApiError(
        422, {"message": "Unprocessable Entity", "errors": [message], "documentation_url": docs}
    )


class Reviews:
    """The stand-in's reviews and review comments (called with its lock held)."""

    def __init__(self, standin: GitHubStandIn) -> None:
        self.standin = standin
        self.reviews: dict[str, dict[str, list[dict[str, Any]]]] = {}
        self.comments: dict[str, dict[str, list[dict[str, Any]]]] = {}

    def state(self) -> dict[str, Any]:
        return {"reviews": self.reviews, "review_comments": self.comments}

    def load(self, data: Mapping[str, Any]) -> None:
        self.reviews = data.get("reviews", {})
        self.comments = data.get("review_comments", {})

    def of(self, full: str, number: int) -> list[dict[str, Any]]:
        return self.reviews.setdefault(full, {}).setdefault(str(number), [])

    def comments_of(self, full: str, number: int) -> list[dict[str, Any]]:
        return self.comments.setdefault(full, {}).setdefault(str(number), [])

    # --- reviews ------------------------------------------------------------

    def create_review(
        self, full: str, number: int, body: Any, caller: str
    ) -> tuple[int, Any, dict[str, str]]:
        """pulls/create-review. `body` is "Required when using REQUEST_CHANGES or COMMENT";
        nobody may approve or request changes on their own pull request."""
        pr = self.standin.find_pull(full, number)
        if not isinstance(body, dict):
            raise bad_json()
        event = body.get("event")
        if event is not None and event not in EVENTS:
            raise validation_failed(
                {"resource": "PullRequestReview", "field": "event", "code": "invalid"},
                docs=REVIEWS_DOCS,
            )
        if event in ("REQUEST_CHANGES", "COMMENT") and not body.get("body"):
            raise _refused(
                f"Review body is required to {event.lower().replace('_', ' ')}", REVIEWS_DOCS
            )
        if caller == pr["user"] and event == "APPROVE":
            raise _refused("Can not approve your own pull request", REVIEWS_DOCS)
        if caller == pr["user"] and event == "REQUEST_CHANGES":
            raise _refused("Can not request changes on your own pull request", REVIEWS_DOCS)
        head = self.standin.head_sha(full, pr)
        review: dict[str, Any] = {
            "id": self.standin.new_id(),
            "user": caller,
            "body": str(body.get("body") or ""),
            "state": EVENTS.get(str(event), "PENDING"),
            "commit_id": str(body.get("commit_id") or head),
            "submitted_at": self.standin.now() if event else None,
        }
        for item in body.get("comments") or []:
            if not isinstance(item, dict) or not item.get("path") or not item.get("body"):
                raise _refused("Review comments need a path and a body", REVIEWS_DOCS)
            self._new_comment(full, pr, item, caller, review_id=review["id"], commit=head)
        self.of(full, number).append(review)
        return 200, self.render_review(full, number, review), {}

    def list_reviews(
        self, full: str, number: int, query: Mapping[str, str], caller: str
    ) -> tuple[int, Any, dict[str, str]]:
        """pulls/list-reviews: chronological order; pending reviews only to their author."""
        self.standin.find_pull(full, number)
        seen = [r for r in self.of(full, number) if r["state"] != "PENDING" or r["user"] == caller]
        url = f"{self.standin.url}/repos/{full}/pulls/{number}/reviews"
        chunk, headers = paginate(seen, query, url)
        return 200, [self.render_review(full, number, r) for r in chunk], headers

    def dismiss(
        self, full: str, number: int, review_id: int, body: Any
    ) -> tuple[int, Any, dict[str, str]]:
        """pulls/dismiss-review: `message` is required; only an approval or a request for
        changes can be dismissed."""
        self.standin.find_pull(full, number)
        if not isinstance(body, dict) or not body.get("message"):
            raise validation_failed(
                {"resource": "PullRequestReview", "field": "message", "code": "missing_field"},
                docs=DISMISS_DOCS,
            )
        for review in self.of(full, number):
            if review["id"] == review_id:
                if review["state"] not in ("APPROVED", "CHANGES_REQUESTED"):
                    raise _refused(
                        f"Can not dismiss a {review['state'].lower()} pull request review",
                        DISMISS_DOCS,
                    )
                review["state"] = "DISMISSED"
                return 200, self.render_review(full, number, review), {}
        raise ApiError(404, {"message": "Not Found", "documentation_url": DISMISS_DOCS})

    # --- review comments ----------------------------------------------------

    def _new_comment(
        self,
        full: str,
        pr: dict[str, Any],
        item: Mapping[str, Any],
        caller: str,
        *,
        review_id: int | None = None,
        commit: str | None = None,
        reply_to: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A comment on the diff: its path must be in the PR's diff and its line in the file."""
        head = commit or self.standin.head_sha(full, pr)
        if reply_to is None:
            git_dir = self.standin.git_dir(full) or ""
            base = self.standin.base_sha(full, pr) or head
            path = str(item.get("path"))
            if path not in github_git.changed_paths(git_dir, base, head):
                raise _refused("Path could not be resolved", COMMENTS_DOCS)
            line = item.get("line")
            if line is not None and not (
                isinstance(line, int) and 1 <= line <= github_git.file_lines(git_dir, head, path)
            ):
                raise _refused(
                    "pull_request_review_thread.line must be part of the diff", COMMENTS_DOCS
                )
        comment = {
            "id": self.standin.new_id(),
            "user": caller,
            "body": str(item["body"]),
            "path": reply_to["path"] if reply_to else str(item["path"]),
            "line": reply_to["line"] if reply_to else item.get("line"),
            "side": reply_to["side"] if reply_to else item.get("side", "RIGHT"),
            "commit_id": head,
            "in_reply_to_id": reply_to["id"] if reply_to else None,
            "pull_request_review_id": review_id or self.standin.new_id(),
            "created_at": self.standin.now(),
        }
        self.comments_of(full, pr["number"]).append(comment)
        return comment

    def create_comment(
        self, full: str, number: int, body: Any, caller: str
    ) -> tuple[int, Any, dict[str, str]]:
        """pulls/create-review-comment: body, commit_id and path are required, unless it is
        a reply (`in_reply_to`), when "all parameters other than body are ignored"."""
        pr = self.standin.find_pull(full, number)
        if not isinstance(body, dict):
            raise bad_json()
        if body.get("in_reply_to") is not None:
            return self.reply(full, number, int(body["in_reply_to"]), body, caller)
        missing = [f for f in ("body", "commit_id", "path") if not body.get(f)]
        if missing:
            raise validation_failed(
                *(
                    {"resource": "PullRequestReviewComment", "field": f, "code": "missing_field"}
                    for f in missing
                ),
                docs=COMMENTS_DOCS,
            )
        comment = self._new_comment(full, pr, body, caller, commit=str(body["commit_id"]))
        return 201, self.render_comment(full, number, comment), {}

    def reply(
        self, full: str, number: int, comment_id: int, body: Any, caller: str
    ) -> tuple[int, Any, dict[str, str]]:
        """pulls/create-reply-for-review-comment: the ID "must be the ID of a top-level review
        comment, not a reply to that comment. Replies to replies are not supported."
        An unknown comment is 404."""
        pr = self.standin.find_pull(full, number)
        if not isinstance(body, dict) or not body.get("body"):
            raise validation_failed(
                {"resource": "PullRequestReviewComment", "field": "body", "code": "missing_field"},
                docs=REPLY_DOCS,
            )
        parent = next((c for c in self.comments_of(full, number) if c["id"] == comment_id), None)
        if parent is None:
            raise ApiError(404, {"message": "Not Found", "documentation_url": REPLY_DOCS})
        if parent["in_reply_to_id"] is not None:
            raise unprocessable("Replies to replies are not supported", REPLY_DOCS)
        comment = self._new_comment(full, pr, body, caller, reply_to=parent)
        return 201, self.render_comment(full, number, comment), {}

    def list_comments(
        self, full: str, number: int, query: Mapping[str, str]
    ) -> tuple[int, Any, dict[str, str]]:
        """pulls/list-review-comments: "By default, review comments are in ascending order by
        ID"; `sort` created/updated, `direction` asc/desc, `since`."""
        self.standin.find_pull(full, number)
        check_enums(query, _COMMENT_ENUMS)
        found = [
            c for c in self.comments_of(full, number) if c["created_at"] >= query.get("since", "")
        ]
        if query.get("direction", "asc") == "desc":
            found = found[::-1]
        url = f"{self.standin.url}/repos/{full}/pulls/{number}/comments"
        chunk, headers = paginate(found, query, url)
        return 200, [self.render_comment(full, number, c) for c in chunk], headers

    # --- rendering ----------------------------------------------------------

    def render_review(self, full: str, number: int, review: dict[str, Any]) -> dict[str, Any]:
        api = f"{self.standin.url}/repos/{full}/pulls/{number}"
        html = f"{self.standin.url}/{full}/pull/{number}#pullrequestreview-{review['id']}"
        rendered = {
            "id": review["id"],
            "node_id": f"PRR_{review['id']}",
            "user": self.standin.render_user(review["user"]),
            "body": review["body"],
            "state": review["state"],
            "commit_id": review["commit_id"],
            "html_url": html,
            "pull_request_url": api,
            "author_association": "COLLABORATOR",
            "_links": {"html": {"href": html}, "pull_request": {"href": api}},
        }
        if review["submitted_at"]:
            rendered["submitted_at"] = review["submitted_at"]
        return rendered

    def render_comment(self, full: str, number: int, comment: dict[str, Any]) -> dict[str, Any]:
        api = f"{self.standin.url}/repos/{full}"
        url = f"{api}/pulls/comments/{comment['id']}"
        html = f"{self.standin.url}/{full}/pull/{number}#discussion_r{comment['id']}"
        rendered = {
            "id": comment["id"],
            "node_id": f"PRRC_{comment['id']}",
            "url": url,
            "pull_request_review_id": comment["pull_request_review_id"],
            "diff_hunk": "@@",
            "path": comment["path"],
            "position": comment["line"],
            "original_position": comment["line"],
            "line": comment["line"],
            "original_line": comment["line"],
            "side": comment["side"],
            "commit_id": comment["commit_id"],
            "original_commit_id": comment["commit_id"],
            "user": self.standin.render_user(comment["user"]),
            "body": comment["body"],
            "created_at": comment["created_at"],
            "updated_at": comment["created_at"],
            "html_url": html,
            "pull_request_url": f"{api}/pulls/{number}",
            "author_association": "COLLABORATOR",
            "_links": {
                "self": {"href": url},
                "html": {"href": html},
                "pull_request": {"href": f"{api}/pulls/{number}"},
            },
        }
        if comment["in_reply_to_id"] is not None:  # GitHub includes it only on replies
            rendered["in_reply_to_id"] = comment["in_reply_to_id"]
        return rendered
