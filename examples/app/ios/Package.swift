// swift-tools-version:5.9
// The iOS part of the example: a Swift package xcodebuild builds for iOS
// (`xcodebuild -scheme App -sdk iphonesimulator`); it needs macOS and Xcode.
import PackageDescription

let package = Package(
    name: "App",
    platforms: [.iOS(.v16)],
    products: [.library(name: "App", targets: ["App"])],
    targets: [.target(name: "App")]
)
