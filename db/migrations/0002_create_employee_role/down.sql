DROP TABLE padealing.employee_role;
