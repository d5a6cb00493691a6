"""Channel adapters that kefu ships: mail in by SMTP and IMAP (contract 10)."""
