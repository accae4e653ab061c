"""What the bot shows of the styles a server can use: for now, the contact sheet (`contact_sheet`)."""
