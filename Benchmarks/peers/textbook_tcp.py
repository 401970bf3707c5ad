# The textbook's TCPServer.py (Kurose & Ross, ch. 2), unchanged in what it does (one connection
# at a time, one recv, one reply, close), made fit for a benchmark: it binds 127.0.0.1 on the
# port given (0: any free one), with the backlog a load needs, and says where it listens.
import sys
from socket import *

serverSocket = socket(AF_INET, SOCK_STREAM)
serverSocket.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
serverSocket.bind(('127.0.0.1', int(sys.argv[1]) if len(sys.argv) > 1 else 0))
serverSocket.listen(128)
print('textbook-tcp: ready, tcp on 127.0.0.1:%d' % serverSocket.getsockname()[1], flush=True)
while True:
    connectionSocket, addr = serverSocket.accept()
    sentence = connectionSocket.recv(1024).decode()
    capitalizedSentence = sentence.upper()
    connectionSocket.send(capitalizedSentence.encode())
    connectionSocket.close()
