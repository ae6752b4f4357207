import Foundation
import VigilCore

/// The values of one page: an `Encodable` struct (nested structs, arrays, optionals, `Bool`,
/// `String`, numbers, string enums, `TrustedHTML`) that a template is checked against at start
/// and rendered from.
///
/// Names in templates are the coding keys in snake_case: a property `caseTitle` is
/// `{{case_title}}` (see `TemplateValue.templateKey`); a `CodingKeys` enum may name a key
/// itself. A nil optional renders as false, so `{{^x}}` and `{{?x}}` work as for a missing value.
public protocol TemplateModel: Encodable {
    /// A filled-in example: every optional set and every array with one element (at least). The
    /// engine learns the shape of the model from it — the names a template may use — and
    /// `docs/theming.md` shows its values.
    static var example: Self { get }
}

/// Trusted HTML encodes as its markup; the template encoder keeps it as `.html`, so it may be
/// written with `{{{…}}}`. (It is deliberately not `Decodable`: nothing outside `HTML` makes it.)
extension TrustedHTML: Encodable {
    public func encode(to encoder: any Encoder) throws {
        if let templateEncoder = encoder as? TemplateValueEncoder {
            templateEncoder.slot.value = .html(self)
            return
        }
        var c = encoder.singleValueContainer()
        try c.encode(html)
    }
}

extension TemplateValue {
    /// The value of an `Encodable` model, for a template: `String` → `.string`, `TrustedHTML` →
    /// `.html`, `Bool` → `.bool`, numbers → `.string` (their `description`), arrays → `.list`,
    /// structs and dictionaries → `.object`, nil → `.bool(false)`. `URL` and `Decimal` become
    /// text; a `Date` is refused (format it in the model: the template cannot).
    ///
    /// Keys of structs are converted to snake_case (`templateKey`); keys of a `[String: …]`
    /// dictionary are kept as they are.
    public init<T: Encodable>(encoding value: T) throws {
        self = try TemplateValueEncoder.encode(value, codingPath: [], recorder: TemplateValueEncoder.Recorder())
    }

    /// A struct's coding key as a template name: camelCase → snake_case, the way
    /// `JSONEncoder.KeyEncodingStrategy.convertToSnakeCase` does it (`caseTitle` → `case_title`,
    /// `canonicalURL` → `canonical_url`, `pdfURLForPrint` → `pdf_url_for_print`). A key already in
    /// snake_case is unchanged.
    public static func templateKey(_ key: String) -> String {
        // Property names are ASCII: converted byte by byte. By `Character`, with Unicode's
        // properties, the conversion was 4% of a search page's CPU (every key of every card).
        let utf8 = key.utf8
        guard utf8.allSatisfy({ $0 < 0x80 }) else { return templateKeyOfCharacters(key) }
        func upper(_ b: UInt8) -> Bool { b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z") }
        func lower(_ b: UInt8) -> Bool { b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z") }
        func digit(_ b: UInt8) -> Bool { b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") }
        guard utf8.contains(where: upper) else { return key }
        let b = Array(utf8)
        var out: [UInt8] = []
        out.reserveCapacity(b.count + 4)
        for i in b.indices {
            let c = b[i]
            if upper(c), i > 0 {
                let previous = b[i - 1], next: UInt8? = i + 1 < b.count ? b[i + 1] : nil
                if lower(previous) || digit(previous) || (upper(previous) && next.map(lower) == true) {
                    if out.last != UInt8(ascii: "_") { out.append(UInt8(ascii: "_")) }
                }
            }
            out.append(upper(c) ? c + 32 : c)
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// `templateKey` by `Character`: any key (the same as `templateKey` on ASCII, tested).
    static func templateKeyOfCharacters(_ key: String) -> String {
        guard key.contains(where: \.isUppercase) else { return key }
        let chars = Array(key)
        var out = ""
        for (i, c) in chars.enumerated() {
            if c.isUppercase, i > 0 {
                let previous = chars[i - 1]
                let next: Character? = i + 1 < chars.count ? chars[i + 1] : nil
                // a word starts: after a lower-case letter or digit ("caseTitle"), or at the last
                // capital of a run followed by lower case ("URLFor" → "url_for")
                if previous.isLowercase || previous.isNumber || (previous.isUppercase && (next?.isLowercase ?? false)) {
                    if !out.hasSuffix("_") { out.append("_") }
                }
            }
            out += c.lowercased()
        }
        return out
    }
}

/// A dictionary with string keys: its keys are data, not property names, and are kept as they are.
protocol TemplateVerbatimKeys {}
extension Dictionary: TemplateVerbatimKeys where Key == String {}

/// An `Encoder` that builds a `TemplateValue` directly (no JSON in between).
final class TemplateValueEncoder: Encoder {
    /// Where one value is written: a single value, the fields of an object or the items of a list.
    /// A class, so that nested containers write into their parent. Several keyed containers of
    /// one encoder share the object (a wrapper may encode its content and add fields to it).
    final class Slot {
        var value: TemplateValue?
        var fields: [String: Slot]?
        var items: [Slot]?

        init(_ value: TemplateValue? = nil) { self.value = value }

        var resolved: TemplateValue {
            if let fields { return .object(fields.mapValues(\.resolved)) }
            if let items { return .list(items.map(\.resolved)) }
            return value ?? .object([:])
        }
    }

    /// Paths of the nil values met (a schema is learned only from an example without any).
    final class Recorder {
        var nils: [[any CodingKey]] = []
    }

    let slot = Slot()
    let codingPath: [any CodingKey]
    let recorder: Recorder
    let verbatimKeys: Bool
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    init(codingPath: [any CodingKey], recorder: Recorder, verbatimKeys: Bool) {
        self.codingPath = codingPath
        self.recorder = recorder
        self.verbatimKeys = verbatimKeys
    }

    static func encode<T: Encodable>(_ value: T, codingPath: [any CodingKey], recorder: Recorder) throws -> TemplateValue {
        try slot(for: value, codingPath: codingPath, recorder: recorder).resolved
    }

    /// Encodes one value into a new slot.
    static func slot<T: Encodable>(for value: T, codingPath: [any CodingKey], recorder: Recorder) throws -> Slot {
        switch value {
        case let s as String: return Slot(.string(s))
        case let h as TrustedHTML: return Slot(.html(h))
        case let b as Bool: return Slot(.bool(b))
        case let u as URL: return Slot(.string(u.absoluteString))
        case let d as Decimal: return Slot(.string(d.description))
        case is Date:
            throw EncodingError.invalidValue(value, .init(codingPath: codingPath,
                debugDescription: "a Date cannot be shown by a template: format it as text in the page model"))
        default:
            let encoder = TemplateValueEncoder(codingPath: codingPath, recorder: recorder, verbatimKeys: value is TemplateVerbatimKeys)
            try value.encode(to: encoder)
            return encoder.slot
        }
    }

    func key(_ k: any CodingKey) -> String {
        verbatimKeys ? k.stringValue : TemplateValue.templateKey(k.stringValue)
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        if slot.fields == nil { slot.fields = [:] }
        return KeyedEncodingContainer(Keyed<Key>(encoder: self))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        if slot.items == nil { slot.items = [] }
        return Unkeyed(encoder: self)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer { Single(encoder: self) }

    // MARK: Containers

    struct Keyed<Key: CodingKey>: KeyedEncodingContainerProtocol {
        let encoder: TemplateValueEncoder
        var codingPath: [any CodingKey] { encoder.codingPath }

        private func put(_ v: TemplateValue, _ key: Key) { encoder.slot.fields![encoder.key(key)] = Slot(v) }
        private func text<N: CustomStringConvertible>(_ n: N, _ key: Key) { put(.string(n.description), key) }

        mutating func encodeNil(forKey key: Key) throws {
            encoder.recorder.nils.append(codingPath + [key])
            put(.bool(false), key)
        }
        mutating func encode(_ value: Bool, forKey key: Key) throws { put(.bool(value), key) }
        mutating func encode(_ value: String, forKey key: Key) throws { put(.string(value), key) }
        mutating func encode(_ value: Double, forKey key: Key) throws { text(value, key) }
        mutating func encode(_ value: Float, forKey key: Key) throws { text(value, key) }
        mutating func encode(_ value: Int, forKey key: Key) throws { text(value, key) }
        mutating func encode(_ value: Int8, forKey key: Key) throws { text(value, key) }
        mutating func encode(_ value: Int16, forKey key: Key) throws { text(value, key) }
        mutating func encode(_ value: Int32, forKey key: Key) throws { text(value, key) }
        mutating func encode(_ value: Int64, forKey key: Key) throws { text(value, key) }
        mutating func encode(_ value: UInt, forKey key: Key) throws { text(value, key) }
        mutating func encode(_ value: UInt8, forKey key: Key) throws { text(value, key) }
        mutating func encode(_ value: UInt16, forKey key: Key) throws { text(value, key) }
        mutating func encode(_ value: UInt32, forKey key: Key) throws { text(value, key) }
        mutating func encode(_ value: UInt64, forKey key: Key) throws { text(value, key) }
        mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
            encoder.slot.fields![encoder.key(key)] = try TemplateValueEncoder.slot(for: value, codingPath: codingPath + [key], recorder: encoder.recorder)
        }

        // A nil optional is written as false (the default implementations would leave the key out).
        private mutating func present<T>(_ value: T?, _ key: Key, _ encode: (inout Self, T) throws -> Void) throws {
            if let value { try encode(&self, value) } else { try encodeNil(forKey: key) }
        }
        mutating func encodeIfPresent(_ value: Bool?, forKey key: Key) throws { try present(value, key) { try $0.encode($1, forKey: key) } }
        mutating func encodeIfPresent(_ value: String?, forKey key: Key) throws { try present(value, key) { try $0.encode($1, forKey: key) } }
        mutating func encodeIfPresent(_ value: Double?, forKey key: Key) throws { try present(value, key) { try $0.encode($1, forKey: key) } }
        mutating func encodeIfPresent(_ value: Float?, forKey key: Key) throws { try present(value, key) { try $0.encode($1, forKey: key) } }
        mutating func encodeIfPresent(_ value: Int?, forKey key: Key) throws { try present(value, key) { try $0.encode($1, forKey: key) } }
        mutating func encodeIfPresent(_ value: Int8?, forKey key: Key) throws { try present(value, key) { try $0.encode($1, forKey: key) } }
        mutating func encodeIfPresent(_ value: Int16?, forKey key: Key) throws { try present(value, key) { try $0.encode($1, forKey: key) } }
        mutating func encodeIfPresent(_ value: Int32?, forKey key: Key) throws { try present(value, key) { try $0.encode($1, forKey: key) } }
        mutating func encodeIfPresent(_ value: Int64?, forKey key: Key) throws { try present(value, key) { try $0.encode($1, forKey: key) } }
        mutating func encodeIfPresent(_ value: UInt?, forKey key: Key) throws { try present(value, key) { try $0.encode($1, forKey: key) } }
        mutating func encodeIfPresent(_ value: UInt8?, forKey key: Key) throws { try present(value, key) { try $0.encode($1, forKey: key) } }
        mutating func encodeIfPresent(_ value: UInt16?, forKey key: Key) throws { try present(value, key) { try $0.encode($1, forKey: key) } }
        mutating func encodeIfPresent(_ value: UInt32?, forKey key: Key) throws { try present(value, key) { try $0.encode($1, forKey: key) } }
        mutating func encodeIfPresent(_ value: UInt64?, forKey key: Key) throws { try present(value, key) { try $0.encode($1, forKey: key) } }
        mutating func encodeIfPresent<T: Encodable>(_ value: T?, forKey key: Key) throws { try present(value, key) { try $0.encode($1, forKey: key) } }

        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
            nested(key).container(keyedBy: keyType)
        }
        mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer { nested(key).unkeyedContainer() }
        mutating func superEncoder() -> any Encoder { nested(TemplateCodingKey("super")) }
        mutating func superEncoder(forKey key: Key) -> any Encoder { nested(key) }

        private func nested(_ key: any CodingKey) -> TemplateValueEncoder {
            let child = TemplateValueEncoder(codingPath: codingPath + [key], recorder: encoder.recorder, verbatimKeys: false)
            encoder.slot.fields![encoder.key(key)] = child.slot
            return child
        }
    }

    struct Unkeyed: UnkeyedEncodingContainer, PrimitiveSink {
        let encoder: TemplateValueEncoder
        var codingPath: [any CodingKey] { encoder.codingPath }
        var count: Int { encoder.slot.items?.count ?? 0 }
        private var nextKey: TemplateCodingKey { TemplateCodingKey(index: count) }

        func put(_ v: TemplateValue) { encoder.slot.items!.append(Slot(v)) }

        mutating func encodeNil() throws {
            encoder.recorder.nils.append(codingPath + [nextKey])
            put(.bool(false))
        }
        mutating func encode<T: Encodable>(_ value: T) throws {
            let s = try TemplateValueEncoder.slot(for: value, codingPath: codingPath + [nextKey], recorder: encoder.recorder)
            encoder.slot.items!.append(s)
        }

        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
            nested().container(keyedBy: keyType)
        }
        mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer { nested().unkeyedContainer() }
        mutating func superEncoder() -> any Encoder { nested() }

        private func nested() -> TemplateValueEncoder {
            let child = TemplateValueEncoder(codingPath: codingPath + [nextKey], recorder: encoder.recorder, verbatimKeys: false)
            encoder.slot.items!.append(child.slot)
            return child
        }
    }

    struct Single: SingleValueEncodingContainer, PrimitiveSink {
        let encoder: TemplateValueEncoder
        var codingPath: [any CodingKey] { encoder.codingPath }

        func put(_ v: TemplateValue) { encoder.slot.value = v }

        mutating func encodeNil() throws {
            encoder.recorder.nils.append(codingPath)
            put(.bool(false))
        }
        mutating func encode<T: Encodable>(_ value: T) throws {
            let s = try TemplateValueEncoder.slot(for: value, codingPath: codingPath, recorder: encoder.recorder)
            encoder.slot.value = s.value
            encoder.slot.fields = s.fields
            encoder.slot.items = s.items
        }
    }
}

struct TemplateCodingKey: CodingKey {
    let stringValue: String
    let intValue: Int?
    init(_ s: String) { stringValue = s; intValue = nil }
    init(index: Int) { stringValue = String(index); intValue = index }
    init?(stringValue: String) { self.init(stringValue) }
    init?(intValue: Int) { self.init(index: intValue) }
}

/// The primitives the unkeyed and single-value containers write alike: flags as flags, text as
/// text, numbers as their description.
protocol PrimitiveSink {
    func put(_ v: TemplateValue)
}

extension PrimitiveSink {
    private func text<N: CustomStringConvertible>(_ n: N) { put(.string(n.description)) }
    mutating func encode(_ value: Bool) throws { put(.bool(value)) }
    mutating func encode(_ value: String) throws { put(.string(value)) }
    mutating func encode(_ value: Double) throws { text(value) }
    mutating func encode(_ value: Float) throws { text(value) }
    mutating func encode(_ value: Int) throws { text(value) }
    mutating func encode(_ value: Int8) throws { text(value) }
    mutating func encode(_ value: Int16) throws { text(value) }
    mutating func encode(_ value: Int32) throws { text(value) }
    mutating func encode(_ value: Int64) throws { text(value) }
    mutating func encode(_ value: UInt) throws { text(value) }
    mutating func encode(_ value: UInt8) throws { text(value) }
    mutating func encode(_ value: UInt16) throws { text(value) }
    mutating func encode(_ value: UInt32) throws { text(value) }
    mutating func encode(_ value: UInt64) throws { text(value) }
}
