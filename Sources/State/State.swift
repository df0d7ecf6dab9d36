// The State module: see Package.swift for its place in the flow.
