DROP TABLE padealing.chatbot_session;
