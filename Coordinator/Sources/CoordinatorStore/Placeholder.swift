enum CoordinatorStorePlaceholder {}
