// RunbookAWS
