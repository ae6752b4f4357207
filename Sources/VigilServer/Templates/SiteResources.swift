import Foundation
import Vapor

/// Templates and UI strings of the site, found at start.
struct SiteResources: Sendable {
    let views: ViewRenderer
    /// Every catalogue: English for the site, and the languages of supporters' e-mail.
    let catalogue: Catalogue

    /// Commands that never render a page, a mail or a document: they run without the resources
    /// (a binary copied alone can still migrate, back up, restore or rotate the secret).
    static let commandsWithoutResources: Set<String> = ["migrate", "backup", "restore", "secret", "routes", "version", "mail"]

    /// Finds `Resources/Views` and `Resources/Locales` in Vigil's home (`VigilHome`, found
    /// whatever the working directory); templates in `VIGIL_VIEWS` override the built-in ones file
    /// by file. Points `app.directory` at the home, so static files come from its `Public`.
    static func load(app: Application, configuration: VigilConfiguration,
                     home: Result<VigilHome, VigilHome.NotFound> = VigilHome.current) throws -> SiteResources {
        let located: VigilHome
        switch home {
        case .success(let h): located = h
        case .failure(let problem):
            guard commandsWithoutResources.contains(app.vigilCommand) else {
                throw VigilConfiguration.Problem(description: problem.description)
            }
            // Nothing will be rendered: an English catalogue with no strings, no templates.
            return SiteResources(views: ViewRenderer(directories: []),
                                 catalogue: Catalogue(english: Strings(language: "en", table: [:]), others: []))
        }
        app.directory = DirectoryConfiguration(workingDirectory: located.path)
        let builtIn = located.views
        var isDir: ObjCBool = false
        var dirs = [builtIn]
        if let custom = configuration.viewsDirectory {
            guard FileManager.default.fileExists(atPath: custom, isDirectory: &isDir), isDir.boolValue else {
                throw VigilConfiguration.Problem(description: "VIGIL_VIEWS is \(custom), which is not a directory.")
            }
            dirs.insert(custom, at: 0)
        }
        var catalogue = try Catalogue.load(directory: located.locales)
        if configuration.pseudoLocale { catalogue = catalogue.addingPseudoLocale() }
        let views = ViewRenderer(directories: dirs)
        // Check every page against its model now, so a broken override fails at start, not on a visitor.
        try Pages.check(views: views, strings: catalogue.english)
        Localized.english = catalogue.english
        // The layout and the partials are checked where pages include them.
        return SiteResources(views: views, catalogue: catalogue)
    }
}
