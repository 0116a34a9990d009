"""The small template language of customer messages and rule alerts.

Message templates are written by managers and rendered for every customer, in previews by anyone with the
workflow view, and in the background for every event. So they are data, not code:

- A dedicated Django template engine whose only tags and filters are the allow-list below (no
  `include`, `extends`, `load`, loops, `now`, `debug`, padding or list filters): anything else is a
  syntax error naming the tag or filter and listing what may be used. No template loaders either.
- Sizes are capped: the template text (`MAX_TEMPLATE_CHARS`), what a render produces
  (`MAX_OUTPUT_CHARS`) and how long it may take (`MAX_RENDER_SECONDS`, checked at every variable
  lookup, the only place a render does work that depends on the data). Without loops a render is linear
  in the template and the values, so the caps are a second line.
- Rendering raises `TemplateProblem` (a message in words); callers decide what fails: a preview
  answers 400, a stored template that breaks fails only its own messages (workflow.messaging).
"""
import re
import time
from contextvars import ContextVar
from functools import lru_cache

from django.template import Context, Engine, Library, TemplateSyntaxError
from django.template import defaultfilters, defaulttags

MAX_TEMPLATE_CHARS = 10_000
MAX_OUTPUT_CHARS = 20_000
MAX_RENDER_SECONDS = 0.2
MISSING = "⟪missing:%s⟫"  # what an unknown variable renders as in previews and checks
MISSING_RE = re.compile(r"⟪missing:([^⟫]*)⟫")

ALLOWED_TAGS = ("if", "with", "firstof", "comment")
ALLOWED_FILTERS = ("default", "default_if_none", "upper", "lower", "title", "capfirst", "date", "time", "yesno",
                   "pluralize", "truncatechars", "truncatewords", "cut", "length")
# Words that close or continue an allowed block: Django reports them as unknown block tags when misplaced.
_BLOCK_WORDS = {"elif", "else", "endif", "endwith", "endcomment"}

register = Library()
register.tags.update({name: defaulttags.register.tags[name] for name in ALLOWED_TAGS})
register.filters.update({name: defaultfilters.register.filters[name] for name in ALLOWED_FILTERS})


class TemplateProblem(Exception):
    """A template that cannot be used or rendered, said in words."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message


class MessageEngine(Engine):
    """A template engine with nothing built in but the allow-list."""

    default_builtins = []


@lru_cache(maxsize=2)
def engine(preview=False):
    return MessageEngine(autoescape=False, loaders=[], libraries={}, builtins=["workflow.templating"],
                         string_if_invalid=MISSING if preview else "")


def allowed_text():
    return f"tags: {', '.join(ALLOWED_TAGS)} (with elif/else); filters: {', '.join(ALLOWED_FILTERS)}"


def _explain(exc):
    message = str(exc)
    tag = re.match(r"Invalid block tag on line (\d+): '([^']+)'", message)
    if tag and tag.group(2) not in _BLOCK_WORDS:
        return (f"line {tag.group(1)}: {{% {tag.group(2)} %}} is not allowed in message templates. "
                f"Allowed {allowed_text()}.")
    bad_filter = re.match(r"Invalid filter: '([^']+)'", message)
    if bad_filter:
        return f"the filter |{bad_filter.group(1)} is not allowed in message templates. Allowed {allowed_text()}."
    return message


@lru_cache(maxsize=512)
def _compiled(text, preview):
    return engine(preview).from_string(text)


def compile_template(text, *, preview=False):
    """The compiled template, or TemplateProblem when it is too long, not valid or uses what is not allowed."""
    text = text or ""
    if len(text) > MAX_TEMPLATE_CHARS:
        raise TemplateProblem(f"a template may be at most {MAX_TEMPLATE_CHARS:,} characters long "
                              f"({len(text):,} given).")
    try:
        return _compiled(text, preview)
    except TemplateSyntaxError as exc:
        raise TemplateProblem(f"not a valid template: {_explain(exc)}") from None


_deadline = ContextVar("template_deadline", default=None)


class _BoundedContext(Context):
    """A render context that stops the render once it has run for MAX_RENDER_SECONDS."""

    def __getitem__(self, key):
        deadline = _deadline.get()
        if deadline is not None and time.monotonic() > deadline:
            raise TemplateProblem(f"rendering took longer than {MAX_RENDER_SECONDS:g} s.")
        return super().__getitem__(key)


def render_text(text, values, *, preview=False):
    """Render template text with plain `values`; TemplateProblem when it cannot be used or breaks a cap."""
    template = compile_template(text, preview=preview)
    token = _deadline.set(time.monotonic() + MAX_RENDER_SECONDS)
    try:
        output = template.render(_BoundedContext(values, autoescape=False))
    except TemplateProblem:
        raise
    except Exception as exc:  # a filter given a value it cannot take, or anything else a render may raise
        raise TemplateProblem(f"rendering failed: {type(exc).__name__}: {exc}"[:300]) from None
    finally:
        _deadline.reset(token)
    if len(output) > MAX_OUTPUT_CHARS:
        raise TemplateProblem(f"the message would be {len(output):,} characters long; "
                              f"at most {MAX_OUTPUT_CHARS:,} are allowed.")
    return output


def missing_variables(rendered):
    """The names of unknown variables in text rendered with preview=True."""
    return sorted(set(MISSING_RE.findall(rendered)))
