// The Registry module: see Package.swift for its place in the flow.
