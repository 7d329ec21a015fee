// RunbookEngine
