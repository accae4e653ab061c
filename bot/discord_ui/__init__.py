"""The Discord-facing part: the commands (`commands/`, one cog per command family, and `command_tree`),
`intake` (a command or a click becomes a job, answered privately), the attachments' checks, the cooldown,
the cards (`cards/`: what a card says, its buttons, where it lives) and the `publisher` that keeps each
job's card up to date from the ledger's snapshots."""
