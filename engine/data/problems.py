"""Problems found in input data: each is one sentence a person can act on."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Problem:
    """One finding about a file. ``row`` is 1-based as a spreadsheet shows it (header = row 1)."""

    file: str
    message: str  # what is wrong and what to do, without the location
    row: int | None = None
    column: str | None = None
    level: str = "error"  # "error" | "warning"

    @property
    def sentence(self) -> str:
        where = [self.file]
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column {self.column}")
        return f"{', '.join(where)}: {self.message}"

    def __str__(self) -> str:  # pragma: no cover - convenience
        return self.sentence


@dataclass
class ValidationReport:
    folder: str
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    summary: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors

    def add(self, problem: Problem) -> None:
        (self.errors if problem.level == "error" else self.warnings).append(problem)

    def error_sentences(self) -> list[str]:
        return [p.sentence for p in self.errors]

    def warning_sentences(self) -> list[str]:
        return [p.sentence for p in self.warnings]

    def to_dict(self) -> dict:
        return {
            "folder": self.folder,
            "ok": self.ok,
            "errors": self.error_sentences(),
            "warnings": self.warning_sentences(),
            "summary": self.summary,
        }


class DataValidationError(Exception):
    """Raised by ``load_dataset`` when a folder has errors; carries the full report."""

    def __init__(self, report: ValidationReport):
        self.report = report
        n = len(report.errors)
        super().__init__(f"{report.folder} has {n} problem{'s' * (n != 1)}: " + " ".join(report.error_sentences()[:3]))
