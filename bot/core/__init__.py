"""The job core, without Discord: what a job is (`job`, `params`), the one check of its parameters
(`param_check`), per-server settings, the ledger that owns every live job's state, the ETA model, and
the store (SQLite, job rows, job files)."""
