// The YAML module: see Package.swift for its place in the flow.
import CYAML
