import Foundation

/// `/login`: the log-in form; after a failure, the one message and the address typed.
struct LoginPage: TemplateModel {
    var errors: [String] = []
    var email = ""

    static let example = LoginPage(errors: ["The e-mail address or the password is wrong."], email: "ana@example.org")
}
