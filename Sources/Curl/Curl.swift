// The Curl module: see Package.swift for its place in the flow.
import CCurl
import CCurlShim
