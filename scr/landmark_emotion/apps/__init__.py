"""What people use: the live demo, recording one's expressions, and the web page (with what they draw)."""
