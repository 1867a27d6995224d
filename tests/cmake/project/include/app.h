int kern_value(void);
