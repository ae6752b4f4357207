import Foundation

/// A bundle read from its JSON text one target and one case at a time.
///
/// Parsed whole, an archive's bundle became a JSON tree several times the size of its text (a
/// bundle of 48 MB: about 290 MB at the import's peak). Here the bundle's object is split by
/// `JSONSpans` without being parsed: its `targets` and `cases` arrays are read an element at a
/// time (each element's text parsed on its own, then read at once), so one case's tree is held at
/// a time, and the rest of the object (its format, anything else) is parsed as before, with those
/// arrays left empty. Every byte is still checked as JSON: the splitter checks the object's and
/// the arrays' punctuation, the characters of bare words and how deep the elements nest (the
/// parser of one element alone would take a byte-order mark before a bare word, and two levels
/// more), the parser everything else. Text in UTF-16 or UTF-32 is parsed whole, as before.
extension VigilBundle {
    /// The keys whose arrays are read an element at a time.
    static let streamedArrays = ["targets", "cases"]

    /// Like `readLocated(_:diagnostics:)` on the parsed text, with the same problems at the same
    /// paths; throws `JSONParseError` when the text is not JSON.
    public static func readLocated(json data: Data, diagnostics d: Diagnostics) throws -> Located? {
        try scan(json: data, diagnostics: d) { c, _ in c }.map { Located(targets: $0.targets, cases: $0.cases) }
    }

    /// Like `readLocated(json:diagnostics:)`, with the same problems, but keeping of each case only
    /// what the reference rules read (`CaseReferences`) and where its text lies, to be read whole
    /// again when it is written (`Indexed.readCase`): an archive's import holds one case at a time.
    public static func readIndexed(json data: Data, diagnostics d: Diagnostics) throws -> Indexed? {
        guard let found = try scan(json: data, diagnostics: d, keep: { c, span in
            (CaseReferences(c), span.map(Indexed.Entry.text) ?? .value(c))
        }) else { return nil }
        return Indexed(targets: found.targets.map(\.0), targetPaths: found.targets.map(\.1),
                       cases: found.cases.map(\.0.0), casePaths: found.cases.map(\.1),
                       text: data, entries: found.cases.map(\.0.1))
    }

    /// A bundle as an import reads it: its targets (few), and of each case read its references and
    /// path, and its text (or the case itself, when the bundle was not read from text a case at a
    /// time), read again when the case is written.
    public struct Indexed: Sendable {
        public var targets: [Target]
        public var targetPaths: [String]
        public var cases: [CaseReferences]
        public var casePaths: [String]
        enum Entry: Sendable {
            case value(Case)
            /// Where the case's text lies in `text`.
            case text(Range<Int>)
        }
        let text: Data
        let entries: [Entry]

        init(targets: [Target], targetPaths: [String], cases: [CaseReferences], casePaths: [String], text: Data, entries: [Entry]) {
            self.targets = targets; self.targetPaths = targetPaths; self.cases = cases; self.casePaths = casePaths
            self.text = text; self.entries = entries
        }

        /// A bundle held whole (the demo, the API's single case), its parts at `$.targets[i]` and
        /// `$.cases[i]` unless given.
        public init(_ bundle: VigilBundle, targetPaths: [String]? = nil, casePaths: [String]? = nil) {
            self.init(targets: bundle.targets, targetPaths: targetPaths ?? bundle.targets.indices.map { "$.targets[\($0)]" },
                      cases: bundle.cases.map(CaseReferences.init), casePaths: casePaths ?? bundle.cases.indices.map { "$.cases[\($0)]" },
                      text: Data(), entries: bundle.cases.map(Entry.value))
        }

        /// The `i`th case read, whole: read again from its text. Throws if it no longer reads
        /// without a problem, or to other references (it did when the bundle was read, and an
        /// import writes only a bundle without problems; the text is a copy, not the file mapped).
        public func readCase(_ i: Int) throws -> Case {
            switch entries[i] {
            case .value(let c): return c
            case .text(let span):
                let d = Diagnostics()
                guard let c = Case.read(try JSONSpans.parse(text, span, path: casePaths[i]), path: casePaths[i], diagnostics: d),
                      d.issues.isEmpty, CaseReferences(c) == cases[i] else {
                    throw ReadAgainError(path: casePaths[i])
                }
                return c
            }
        }
    }

    /// A case of a bundle being imported read differently the second time: a fault of the program
    /// (or of the memory it runs in), not of the bundle.
    public struct ReadAgainError: Error, CustomStringConvertible {
        public var path: String
        public var description: String { "\(path) read differently the second time it was read; nothing was imported" }
    }

    /// The bundle's targets and cases read from its text, each case as `keep` makes it of the case
    /// and where its text lies (nil when it was read from the parsed text instead).
    private static func scan<C>(json data: Data, diagnostics d: Diagnostics,
                                keep: (Case, Range<Int>?) -> C) throws -> (targets: [(Target, String)], cases: [(C, String)])? {
        let found = try data.withUnsafeBytes { bytes -> (rest: Data, arrays: [String: Range<Int>])? in
            // Text in UTF-16 or UTF-32 (zero bytes among the first four, as Foundation's parser tells
            // them apart) is parsed whole, as before.
            guard !bytes.prefix(4).contains(0), let members = try JSONSpans.members(of: bytes) else { return nil }
            // The first of a key counts, as it does for Foundation's parser.
            var seen = Set<String>(), arrays: [String: Range<Int>] = [:]
            for (key, span) in members {
                guard let key, seen.insert(key).inserted else { continue }
                if streamedArrays.contains(key), bytes[span.lowerBound] == UInt8(ascii: "[") { arrays[key] = span }
            }
            // The rest of the object (its format, and anything else it holds) is parsed as before,
            // each array read an element at a time left empty there, with its line breaks so that
            // a problem's line is still the text's.
            var rest = Data(), at = 0
            for span in arrays.values.sorted(by: { $0.lowerBound < $1.lowerBound }) {
                rest.append(contentsOf: bytes[at..<span.lowerBound])
                rest.append(contentsOf: Array("[]".utf8) + Array(repeating: 0x0A, count: bytes[span].count { $0 == 0x0A }))
                at = span.upperBound
            }
            rest.append(contentsOf: bytes[at...])
            return (rest, arrays)
        }
        guard let found else {
            // Not an object (or not JSON): read as before, which says what it is instead.
            guard let located = readLocated(try JSONValue.parse(data), diagnostics: d) else { return nil }
            return (Array(zip(located.bundle.targets, located.targetPaths)),
                    Array(zip(located.bundle.cases.map { keep($0, nil) }, located.casePaths)))
        }
        guard var r = ObjectReader(try JSONValue.parse(found.rest), path: "$", diagnostics: d) else { return nil }
        defer { r.finish() }
        checkFormat(&r, diagnostics: d)
        func read<T>(_ key: String, _ each: (JSONValue, String, Range<Int>?) -> T?) throws -> [(T, String)] {
            guard let span = found.arrays[key] else { return r.locatedArray(key) { each($0, $1, nil) } }
            _ = r.raw(key)
            let elements = try data.withUnsafeBytes { try JSONSpans.elements(of: $0, in: span) }
            let tooMany = elements.count > ObjectReader.maxLocatedItems
            let read = try elements.enumerated().compactMap { i, element -> (T, String)? in
                let path = "$.\(key)[\(i)]"
                let value = try JSONSpans.parse(data, element, path: path)
                // Too many are each still checked as JSON, as they were when parsed whole.
                return tooMany ? nil : each(value, path, element).map { ($0, path) }
            }
            if tooMany { d.add("$.\(key)", IssueText.tooManyItems(elements.count, max: ObjectReader.maxLocatedItems)) }
            return read
        }
        return (try read("targets") { v, p, _ in Target.read(v, path: p, diagnostics: d) },
                try read("cases") { v, p, span in Case.read(v, path: p, diagnostics: d).map { keep($0, span) } })
    }
}

/// Where the members of a JSON object, and the elements of an array, lie in its text, found
/// without parsing them: strings are skipped (with their escapes) and brackets matched.
/// Offsets are from the start of the buffer. What Foundation's parser lets pass (a comma before
/// a closing bracket) passes here too, so that a bundle reads as it did when it was parsed whole.
enum JSONSpans {
    /// The members of the object the text is, in order: each key when it is ASCII (else nil;
    /// the keys looked for are), and where its value lies. Nil when the text does not begin with
    /// `{` (after white space). Throws when the object's own punctuation is wrong, or anything
    /// follows it.
    static func members(of bytes: UnsafeRawBufferPointer) throws -> [(String?, Range<Int>)]? {
        var s = Scanner(bytes: bytes)
        s.skipSpace()
        guard s.peek == UInt8(ascii: "{") else { return nil }
        s.i += 1
        var members: [(String?, Range<Int>)] = []
        s.skipSpace()
        if s.peek == UInt8(ascii: "}") {
            s.i += 1
        } else {
            while true {
                s.skipSpace()
                guard s.peek == UInt8(ascii: "\"") else { throw s.error("expected a key in quotes") }
                let keyStart = s.i
                try s.skipString()
                let key = asciiKey(bytes[(keyStart + 1)..<(s.i - 1)])
                s.skipSpace()
                guard s.peek == UInt8(ascii: ":") else { throw s.error("expected ':' after a key") }
                s.i += 1
                s.skipSpace()
                members.append((key, try s.skipValue(depth: maxDepth - 1)))
                s.skipSpace()
                if s.peek == UInt8(ascii: ",") {
                    s.i += 1
                    s.skipSpace()
                    // A comma before the end is let pass, as Foundation's parser lets it.
                    if s.peek == UInt8(ascii: "}") { s.i += 1; break }
                    continue
                }
                if s.peek == UInt8(ascii: "}") { s.i += 1; break }
                throw s.error("expected ',' or '}' after a value")
            }
        }
        s.skipSpace()
        guard s.i == bytes.count else { throw s.error("unexpected text after the bundle's object") }
        return members
    }

    /// A key's text (between its quotes) with its escapes read, when it is all ASCII; nil when
    /// it is not, or an escape is wrong (the parser of the rest says so).
    static func asciiKey(_ raw: Slice<UnsafeRawBufferPointer>) -> String? {
        var out = ""
        var i = raw.startIndex
        while i < raw.endIndex {
            let b = raw[i]
            i += 1
            guard b == UInt8(ascii: "\\") else {
                guard b >= 0x20, b < 0x80 else { return nil }
                out.unicodeScalars.append(UnicodeScalar(b))
                continue
            }
            guard i < raw.endIndex else { return nil }
            let e = raw[i]
            i += 1
            switch e {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.unicodeScalars.append(UnicodeScalar(e))
            case UInt8(ascii: "b"): out += "\u{08}"
            case UInt8(ascii: "f"): out += "\u{0C}"
            case UInt8(ascii: "n"): out += "\n"
            case UInt8(ascii: "r"): out += "\r"
            case UInt8(ascii: "t"): out += "\t"
            case UInt8(ascii: "u"):
                guard i + 4 <= raw.endIndex, let v = UInt32(String(decoding: raw[i..<(i + 4)], as: UTF8.self), radix: 16), v < 0x80 else { return nil }
                i += 4
                out.unicodeScalars.append(UnicodeScalar(UInt8(v)))
            default: return nil
            }
        }
        return out
    }

    /// The elements of the array at `span` (which begins with `[`).
    static func elements(of bytes: UnsafeRawBufferPointer, in span: Range<Int>) throws -> [Range<Int>] {
        // An element is nested in the bundle's object and its array.
        let depth = maxDepth - 2
        var s = Scanner(bytes: UnsafeRawBufferPointer(rebasing: bytes[..<span.upperBound]))
        s.i = span.lowerBound + 1
        var elements: [Range<Int>] = []
        s.skipSpace()
        if s.peek == UInt8(ascii: "]") { return [] }
        while true {
            s.skipSpace()
            elements.append(try s.skipValue(depth: depth))
            s.skipSpace()
            if s.peek == UInt8(ascii: ",") {
                s.i += 1
                s.skipSpace()
                if s.peek == UInt8(ascii: "]") { break }
                continue
            }
            if s.peek == UInt8(ascii: "]") { break }
            throw s.error("expected ',' or ']' after an element")
        }
        return elements
    }

    /// The JSON value at `span`, parsed on its own; its problem, if any, names `path` and its line.
    static func parse(_ data: Data, _ span: Range<Int>, path: String) throws -> JSONValue {
        let start = data.startIndex
        do {
            return try JSONValue.parse(Data(data[(start + span.lowerBound)..<(start + span.upperBound)]))
        } catch let e as JSONParseError {
            let line = data[start..<(start + span.lowerBound)].reduce(1) { $1 == 0x0A ? $0 + 1 : $0 }
            let prefix = "not valid JSON: "
            let place = "\(prefix)in \(path), which begins on line \(line)"
            guard e.reason.hasPrefix(prefix) else { throw JSONParseError(reason: place) }
            throw JSONParseError(reason: place + ": " + e.reason.dropFirst(prefix.count))
        }
    }

    /// The deepest nesting Foundation's parser takes (arrays and objects in one another).
    static let maxDepth = 512

    struct Scanner {
        let bytes: UnsafeRawBufferPointer
        var i = 0

        var peek: UInt8? { i < bytes.count ? bytes[i] : nil }

        func error(_ what: String) -> JSONParseError {
            JSONParseError(reason: "not valid JSON: \(what), on line \(line(at: i))")
        }

        func line(at offset: Int) -> Int {
            bytes[..<min(offset, bytes.count)].reduce(1) { $1 == 0x0A ? $0 + 1 : $0 }
        }

        mutating func skipSpace() {
            while let b = peek, b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 { i += 1 }
        }

        /// From an opening quote to past its closing one.
        mutating func skipString() throws {
            let start = i
            i += 1
            while let b = peek {
                i += 1
                if b == UInt8(ascii: "\"") { return }
                if b == UInt8(ascii: "\\") { i += 1 }
            }
            throw JSONParseError(reason: "not valid JSON: a string that begins on line \(line(at: start)) is not closed")
        }

        /// Past one value, whose span it returns: a string, an object or array with everything in
        /// it (no deeper than `depth`), or a bare word or number of the characters they may have
        /// (checked when it is parsed).
        mutating func skipValue(depth: Int) throws -> Range<Int> {
            let start = i
            switch peek {
            case UInt8(ascii: "\""):
                try skipString()
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                var open: [UInt8] = []
                repeat {
                    guard let b = peek else {
                        throw JSONParseError(reason: "not valid JSON: an object or array that begins on line \(line(at: start)) is not closed")
                    }
                    switch b {
                    case UInt8(ascii: "\""): try skipString(); continue
                    case UInt8(ascii: "{"), UInt8(ascii: "["):
                        guard open.count < depth else { throw error("objects and arrays are nested too deeply") }
                        open.append(b == UInt8(ascii: "{") ? UInt8(ascii: "}") : UInt8(ascii: "]"))
                    case UInt8(ascii: "}"), UInt8(ascii: "]"):
                        guard open.popLast() == b else { throw error("'\(Character(UnicodeScalar(b)))' does not close what is open") }
                    default: break
                    }
                    i += 1
                } while !open.isEmpty
            default:
                // true, false, null, or a number: nothing else (a byte-order mark, another
                // encoding) that the parser of this value alone would take.
                while let b = peek, (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9"))
                                    || b == UInt8(ascii: "-") || b == UInt8(ascii: "+") || b == UInt8(ascii: ".") || b == UInt8(ascii: "E") { i += 1 }
                guard i > start else { throw error("expected a value") }
            }
            return start..<i
        }
    }
}
