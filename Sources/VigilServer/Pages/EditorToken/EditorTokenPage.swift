import Foundation

/// A new API token, shown once (on a page no cache keeps), with how to use it.
struct EditorTokenPage: TemplateModel {
    var label: String
    var token: String
    /// The site's address, for the example command.
    var base: String

    static let example = EditorTokenPage(label: "Import from the case tracker", token: "vgl_3kT9mQ2xP7wL0aZ4rB8nC1dE",
                                         base: "https://vigil.example.org")
}
