import Foundation

/// A dated correction of a published document: what was wrong, said to readers with the
/// document itself (its page, its PDF and its Word file), oldest first.
public struct Correction: Hashable, Sendable {
    public var date: PartialDate
    /// What was corrected, plain text in the document's language.
    public var note: String

    public init(date: PartialDate, note: String) { self.date = date; self.note = note }

    /// At most this many corrections on one document.
    public static let maxCount = 50
    public static let maxNoteLength = 2000

    static func read(_ value: JSONValue, path: String, diagnostics d: Diagnostics) -> Correction? {
        guard var r = ObjectReader(value, path: path, diagnostics: d) else { return nil }
        defer { r.finish() }
        let date = r.date("date", required: true, dayPrecision: true)
        let note = r.string("note", required: true, maxLength: maxNoteLength)
        guard let date, let note else { return nil }
        return Correction(date: date, note: note)
    }

    public var json: JSONValue {
        var o = JSONObjectBuilder()
        o.set("date", date.description)
        o.set("note", note)
        return o.value
    }

    /// Oldest first; corrections of one day keep the order they were given in.
    public static func ordered(_ corrections: [Correction]) -> [Correction] {
        corrections.enumerated().sorted { ($0.element.date, $0.offset) < ($1.element.date, $1.offset) }.map(\.element)
    }
}
