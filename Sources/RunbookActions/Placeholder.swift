// RunbookActions
