// The SQLite module: see Package.swift for its place in the flow.
import CSQLite
