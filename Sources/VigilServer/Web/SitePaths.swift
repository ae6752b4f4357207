import Foundation
import VigilCore

/// Every path of the public site, in one place: views and feeds print links with these,
/// and the router parses the same forms.
public enum SitePaths {
    public static let home = "/"
    public static let urgentActions = "/urgent-actions"
    public static let outcomes = "/outcomes"
    public static let feed = "/feed.atom"

    /// `initial`, `update-2`, `outcome`: the readable part of a document's path.
    public static func part(kind: DocumentKind, sequence: Int) -> String {
        switch kind {
        case .initial: return "initial"
        case .update: return "update-\(sequence)"
        case .outcome: return "outcome"
        }
    }

    /// `/urgent-actions/126-19/outcome`, or `/urgent-actions/126-19/initial/ru` for a translation.
    public static func document(_ number: UANumber, kind: DocumentKind, sequence: Int, language: String, isTranslation: Bool) -> String {
        let base = "/urgent-actions/\(number.slug)/\(part(kind: kind, sequence: sequence))"
        return isTranslation ? "\(base)/\(language)" : base
    }

    public static func document(_ number: UANumber, _ doc: Document) -> String {
        document(number, kind: doc.kind, sequence: doc.sequence, language: doc.language, isTranslation: doc.translationOf != nil)
    }

    public static func urgentAction(_ number: UANumber) -> String { "/urgent-actions/\(number.slug)" }
    public static func `case`(_ id: String) -> String { "/cases/\(id)" }
    public static func caseFeed(_ id: String) -> String { "/cases/\(id)/feed.atom" }
    public static func countryFeed(_ code: String) -> String { "/countries/\(code)/feed.atom" }
    public static func themeFeed(_ theme: String) -> String { "/themes/\(theme)/feed.atom" }
    public static func follow(_ caseID: String) -> String { "/follow?case=\(caseID)" }

    /// Parses the part after the number: `initial`, `update-2`, `outcome`.
    public static func parsePart(_ s: String) -> (DocumentKind, Int?)? {
        switch s {
        case "initial": return (.initial, 0)
        case "outcome": return (.outcome, nil)
        default:
            guard s.hasPrefix("update-"), let n = Int(s.dropFirst(7)), n >= 1, n <= 999, String(n) == s.dropFirst(7) else { return nil }
            return (.update, n)
        }
    }

    /// A list URL with these query values (empty ones left out), keys in a stable order.
    public static func list(_ query: [String: String]) -> String {
        let order = ["q", "country", "region", "theme", "status", "kind", "outcome", "language", "page"]
        let items = order.compactMap { k -> String? in
            guard let v = query[k], !v.isEmpty else { return nil }
            return "\(k)=\(percentEncode(v))"
        }
        return items.isEmpty ? urgentActions : "\(urgentActions)?\(items.joined(separator: "&"))"
    }

    static func percentEncode(_ s: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return s.addingPercentEncoding(withAllowedCharacters: allowed) ?? s
    }
}
