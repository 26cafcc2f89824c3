"""Regional standards (京津冀区域协同标准化): the library, open data, 3+X joint drafting and shared notices."""
