"""A job's card: what it says (`render`), its buttons and their custom ids (`buttons`), and where it lives on
Discord and getting it there (`placement`)."""
