// The ImageSource module: see Package.swift for its place in the flow.
import CZlib
