// The Planner module: see Package.swift for its place in the flow.
