public enum App {
    public static let greeting = "Built by buildsys"
}
