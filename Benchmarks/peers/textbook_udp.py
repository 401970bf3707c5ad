# The textbook's UDPServer.py (Kurose & Ross, ch. 2), unchanged in what it does, made fit for a
# benchmark: it binds 127.0.0.1 on the port given (0: any free one) and says where it listens.
import sys
from socket import *

serverSocket = socket(AF_INET, SOCK_DGRAM)
serverSocket.bind(('127.0.0.1', int(sys.argv[1]) if len(sys.argv) > 1 else 0))
print('textbook-udp: ready, udp on 127.0.0.1:%d' % serverSocket.getsockname()[1], flush=True)
while True:
    message, clientAddress = serverSocket.recvfrom(2048)
    modifiedMessage = message.decode().upper()
    serverSocket.sendto(modifiedMessage.encode(), clientAddress)
