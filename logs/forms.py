"""The log viewer's query string as a form: levels, search (text or regex), time range, source, page."""

from __future__ import annotations

from django import forms

from logs.errors import LogQueryError
from logs.exports import FORMATS
from logs.parsing import LEVELS
from logs.viewer import REGEX_MAX_LENGTH, SEARCH_MAX_LENGTH, LogFilter

PAGE_SIZES = (50, 100, 200, 500, 1000)
DEFAULT_PAGE_SIZE = 200
# LogFilter's field names -> this form's, to put a filter's error beside the right input.
_FILTER_FIELDS = {"levels": "level", "search_text": "q", "regex_pattern": "q", "start_time": "since", "source": "source"}


class LogQueryForm(forms.Form):
    level = forms.MultipleChoiceField(
        choices=[(level, level.title()) for level in LEVELS], required=False, widget=forms.CheckboxSelectMultiple
    )
    q = forms.CharField(
        label="Search", required=False, max_length=max(REGEX_MAX_LENGTH, SEARCH_MAX_LENGTH), strip=False
    )
    regex = forms.BooleanField(label="Regular expression", required=False)
    since = forms.DateTimeField(label="From", required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local", "step": 1}))
    until = forms.DateTimeField(label="To", required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local", "step": 1}))
    source = forms.CharField(label="Source file", required=False, max_length=300)
    page = forms.IntegerField(required=False, min_value=1)
    size = forms.TypedChoiceField(
        label="Lines per page", choices=[(n, n) for n in PAGE_SIZES], coerce=int, required=False, empty_value=DEFAULT_PAGE_SIZE
    )
    export = forms.ChoiceField(choices=[(name, name) for name in FORMATS], required=False)

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        search = data.get("q") or ""
        try:
            data["filter"] = LogFilter(
                levels=data.get("level") or (),
                search_text="" if data.get("regex") else search,
                regex_pattern=search if data.get("regex") else "",
                start_time=data.get("since"),
                end_time=data.get("until"),
                source=data.get("source") or "",
            )
        except LogQueryError as error:
            self.add_error(_FILTER_FIELDS.get(error.field, None), error.message)
        return data
