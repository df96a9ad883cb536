"""Web import: liaison officers of an agency without a system upload a spreadsheet, read the
validation report and confirm; the rows are signed with the agency's custodial key."""
