import Foundation

/// The comments Vigil writes itself on a revision. They are stored in English (the API and the
/// audit read them as they are) and shown in the newsroom in the page's language.
enum RevisionComment {
    static let changedOutside = "changed outside the newsroom"
    static let asPublished = "as published"
    static func restored(_ revision: Int) -> String { "restored revision \(revision)" }

    /// `comment` as an editor reads it: one of Vigil's own in `strings`' words, anyone else's as typed.
    static func shown(_ comment: String?, _ strings: Strings) -> String {
        guard let comment else { return "" }
        switch comment {
        case changedOutside: return strings["revision_changed_outside"]
        case asPublished: return strings["revision_as_published"]
        default:
            let prefix = "restored revision "
            if comment.hasPrefix(prefix), let n = Int(comment.dropFirst(prefix.count)), restored(n) == comment {
                return strings.format("revision_restored", ["revision": strings.number(n)])
            }
            return comment
        }
    }
}
