// RunbookSQLite
