enum CoordinatorServerPlaceholder {}
