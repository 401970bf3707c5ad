print("netrepl")
