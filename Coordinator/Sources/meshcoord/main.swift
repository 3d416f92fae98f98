print("meshcoord")
