// The Pusher module: see Package.swift for its place in the flow.
