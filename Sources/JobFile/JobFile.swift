// The JobFile module: see Package.swift for its place in the flow.
