DROP TRIGGER chatbot_session_set_updated_at ON padealing.chatbot_session;
DROP TRIGGER compliance_config_set_updated_at ON padealing.compliance_config;
DROP TRIGGER pad_request_set_updated_at ON padealing.pad_request;
DROP FUNCTION padealing.set_updated_at();
