/// Where a node starts in its file. Lines and columns are 1-based, as editors and compilers print them.
public struct Location: Hashable, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    /// `FILE:LINE:COLUMN`, the prefix of every located message.
    public var description: String { "\(file):\(line):\(column)" }

    /// The same position moved right by `columns` characters (for errors inside a scalar).
    public func advanced(by columns: Int) -> Location {
        Location(file: file, line: line, column: column + columns)
    }
}

/// How a scalar was written; decoders need it to tell `1` (a number) from `"1"` (a string).
public enum ScalarStyle: Sendable, Hashable {
    case plain, singleQuoted, doubleQuoted, literal, folded
}

/// A scalar value as written, with its explicit tag (e.g. `!!str`) when it had one.
public struct Scalar: Sendable, Hashable {
    public var value: String
    public var style: ScalarStyle
    public var tag: String?

    public init(value: String, style: ScalarStyle, tag: String? = nil) {
        self.value = value
        self.style = style
        self.tag = tag
    }

    /// True for a plain scalar that YAML reads as null (`~`, `null`, or nothing at all).
    public var isNull: Bool {
        tag == nil && style == .plain && ["", "~", "null", "Null", "NULL"].contains(value)
    }
}

/// One key/value pair of a mapping, in the order written.
public struct MappingEntry: Sendable {
    public var key: Node
    public var value: Node

    public init(key: Node, value: Node) {
        self.key = key
        self.value = value
    }
}

/// A node of a YAML document. Aliases are already replaced by the node their anchor names.
public struct Node: Sendable {
    public indirect enum Content: Sendable {
        case scalar(Scalar)
        case sequence([Node])
        case mapping([MappingEntry])
    }

    public var content: Content
    public var location: Location
    /// The tag of a collection (`!!map`, `!!seq`, custom), if written.
    public var tag: String?

    public init(content: Content, location: Location, tag: String? = nil) {
        self.content = content
        self.location = location
        self.tag = tag
    }

    public var scalar: Scalar? {
        if case .scalar(let s) = content { return s }
        return nil
    }

    public var sequence: [Node]? {
        if case .sequence(let items) = content { return items }
        return nil
    }

    public var mapping: [MappingEntry]? {
        if case .mapping(let entries) = content { return entries }
        return nil
    }

    /// A word for the kind of node, for messages such as "expected a mapping, found a sequence".
    public var kindDescription: String {
        switch content {
        case .scalar(let s): s.isNull ? "null" : "a scalar"
        case .sequence: "a sequence"
        case .mapping: "a mapping"
        }
    }
}
